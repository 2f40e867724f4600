set terminal pngcairo size 1680,480 noenhanced
set output 'results/policies.png'
set multiplot layout 1,3
set key outside bottom center horizontal maxrows 3 font ',8'
set grid
set xlabel 'true bytes (% of fp16)'
set title 'recall'
set ylabel 'exact match'
unset logscale y
plot 'results/policies.dat' index 0 using 1:2 with linespoints title 'fp16', 'results/policies.dat' index 1 using 1:2 with linespoints title 'streaming', 'results/policies.dat' index 2 using 1:2 with linespoints title 'h2o', 'results/policies.dat' index 3 using 1:2 with linespoints title 'snapkv', 'results/policies.dat' index 4 using 1:2 with linespoints title 'tova', 'results/policies.dat' index 5 using 1:2 with linespoints title 'knorm', 'results/policies.dat' index 6 using 1:2 with linespoints title 'mikv', 'results/policies.dat' index 7 using 1:2 with linespoints title 'zipvl', 'results/policies.dat' index 8 using 1:2 with linespoints title 'kvcrush', 'results/policies.dat' index 9 using 1:2 with linespoints title 'vidkv', 'results/policies.dat' index 10 using 1:2 with linespoints title 'kivi', 'results/policies.dat' index 11 using 1:2 with linespoints title 'kvmix'
set title 'arith'
set ylabel 'exact match'
unset logscale y
plot 'results/policies.dat' index 12 using 1:2 with linespoints title 'fp16', 'results/policies.dat' index 13 using 1:2 with linespoints title 'streaming', 'results/policies.dat' index 14 using 1:2 with linespoints title 'h2o', 'results/policies.dat' index 15 using 1:2 with linespoints title 'snapkv', 'results/policies.dat' index 16 using 1:2 with linespoints title 'tova', 'results/policies.dat' index 17 using 1:2 with linespoints title 'knorm', 'results/policies.dat' index 18 using 1:2 with linespoints title 'mikv', 'results/policies.dat' index 19 using 1:2 with linespoints title 'zipvl', 'results/policies.dat' index 20 using 1:2 with linespoints title 'kvcrush', 'results/policies.dat' index 21 using 1:2 with linespoints title 'vidkv', 'results/policies.dat' index 22 using 1:2 with linespoints title 'kivi', 'results/policies.dat' index 23 using 1:2 with linespoints title 'kvmix'
set title 'text'
set ylabel 'perplexity'
set logscale y
plot 'results/policies.dat' index 24 using 1:2 with linespoints title 'fp16', 'results/policies.dat' index 25 using 1:2 with linespoints title 'streaming', 'results/policies.dat' index 26 using 1:2 with linespoints title 'h2o', 'results/policies.dat' index 27 using 1:2 with linespoints title 'snapkv', 'results/policies.dat' index 28 using 1:2 with linespoints title 'tova', 'results/policies.dat' index 29 using 1:2 with linespoints title 'knorm', 'results/policies.dat' index 30 using 1:2 with linespoints title 'mikv', 'results/policies.dat' index 31 using 1:2 with linespoints title 'zipvl', 'results/policies.dat' index 32 using 1:2 with linespoints title 'kvcrush', 'results/policies.dat' index 33 using 1:2 with linespoints title 'vidkv', 'results/policies.dat' index 34 using 1:2 with linespoints title 'kivi', 'results/policies.dat' index 35 using 1:2 with linespoints title 'kvmix'
unset multiplot
