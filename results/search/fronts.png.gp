set terminal pngcairo size 900,600
set output 'results/search/fronts.png'
set xlabel 'true bytes per token'
set ylabel 'calibration KL (nats/token)'
set logscale y
set key top right
plot 'results/search/fronts.png.dat' index 0 with linespoints title 'front-kvmix.json (kvmix)', 'results/search/fronts.png.dat' index 1 with linespoints title 'front-kvtuner.json (kvtuner-nsga2)'
