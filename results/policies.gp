set terminal pngcairo size 560,480 noenhanced
set output 'policies.png'
set multiplot layout 1,1
set key outside bottom center horizontal maxrows 3 font ',8'
set grid
set xlabel 'true bytes (% of fp16)'
set title 'recall'
set ylabel 'exact match'
unset logscale y
plot 'policies.dat' index 0 using 1:2 with linespoints title 'fp16', 'policies.dat' index 1 using 1:2 with linespoints title 'streaming', 'policies.dat' index 2 using 1:2 with linespoints title 'h2o', 'policies.dat' index 3 using 1:2 with linespoints title 'snapkv', 'policies.dat' index 4 using 1:2 with linespoints title 'tova', 'policies.dat' index 5 using 1:2 with linespoints title 'mikv', 'policies.dat' index 6 using 1:2 with linespoints title 'zipvl', 'policies.dat' index 7 using 1:2 with linespoints title 'kvcrush', 'policies.dat' index 8 using 1:2 with linespoints title 'vidkv', 'policies.dat' index 9 using 1:2 with linespoints title 'kivi'
unset multiplot
