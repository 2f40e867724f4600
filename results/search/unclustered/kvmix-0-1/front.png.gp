set terminal pngcairo size 900,600 noenhanced
set output 'results/search/unclustered/kvmix-0-1/front.png'
set title 'Pareto front (kvmix, 200 full evaluations)'
set xlabel 'true bytes per token'
set ylabel 'calibration KL (nats/token)'
set logscale y
plot 'results/search/unclustered/kvmix-0-1/front.png.dat' using 1:2 with linespoints title 'kvmix'
