set terminal pngcairo size 560,480 noenhanced
set output 'results/policies.png'
set multiplot layout 1,1
set key outside bottom center horizontal maxrows 3 font ',8'
set grid
set xlabel 'true bytes (% of fp16)'
set title 'recall'
set ylabel 'exact match'
unset logscale y
plot 'results/policies.dat' index 0 using 1:2 with linespoints title 'fp16', 'results/policies.dat' index 1 using 1:2 with linespoints title 'streaming', 'results/policies.dat' index 2 using 1:2 with linespoints title 'h2o', 'results/policies.dat' index 3 using 1:2 with linespoints title 'snapkv', 'results/policies.dat' index 4 using 1:2 with linespoints title 'tova', 'results/policies.dat' index 5 using 1:2 with linespoints title 'mikv', 'results/policies.dat' index 6 using 1:2 with linespoints title 'zipvl', 'results/policies.dat' index 7 using 1:2 with linespoints title 'kvcrush', 'results/policies.dat' index 8 using 1:2 with linespoints title 'vidkv', 'results/policies.dat' index 9 using 1:2 with linespoints title 'kivi', 'results/policies.dat' index 10 using 1:2 with linespoints title 'kvmix'
unset multiplot
