set terminal pngcairo size 560,480 noenhanced
set output 'results/policies.png'
set multiplot layout 1,1
set key outside bottom center horizontal maxrows 3 font ',8'
set grid
set xlabel 'true bytes (% of fp16)'
set title 'recall'
set ylabel 'exact match'
unset logscale y
plot 'results/policies.dat' index 0 using 1:2 with linespoints title 'fp16', 'results/policies.dat' index 1 using 1:2 with linespoints title 'h2o', 'results/policies.dat' index 2 using 1:2 with linespoints title 'snapkv', 'results/policies.dat' index 3 using 1:2 with linespoints title 'kivi'
unset multiplot
