set terminal pngcairo size 900,600 noenhanced
set output 'results/policies_search/budget-8bits/front.png'
set title 'Pareto front (kvmix, 24 full evaluations)'
set xlabel 'true bytes per token'
set ylabel 'calibration KL (nats/token)'
set logscale y
plot 'results/policies_search/budget-8bits/front.png.dat' using 1:2 with linespoints title 'kvmix'
