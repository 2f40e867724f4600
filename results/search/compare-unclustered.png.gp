set terminal pngcairo size 900,560
set output 'compare-unclustered.png'
set logscale x
set xlabel 'full evaluations (distinct configurations)'
set ylabel 'hypervolume / best front found (all runs)'
set yrange [0.5:1.005]
set key bottom right
set grid
set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 2
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 3
plot 'compare-unclustered.png.dat' index 0 using 1:3:4 with filledcurves fc rgb '#1b9e77' fs transparent solid 0.15 notitle, 'compare-unclustered.png.dat' index 1 using 1:3:4 with filledcurves fc rgb '#d95f02' fs transparent solid 0.15 notitle, 'compare-unclustered.png.dat' index 2 using 1:3:4 with filledcurves fc rgb '#7570b3' fs transparent solid 0.15 notitle, 'compare-unclustered.png.dat' index 0 using 1:2 with lines lw 2 dt 1 lc rgb '#1b9e77' title 'kvmix (median, range over 1 seeds)', 'compare-unclustered.png.dat' index 1 using 1:2 with lines lw 2 dt 2 lc rgb '#d95f02' title 'optuna-nsga2 (median, range over 1 seeds)', 'compare-unclustered.png.dat' index 2 using 1:2 with lines lw 2 dt 3 lc rgb '#7570b3' title 'random (median, range over 1 seeds)'
