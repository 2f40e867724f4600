# Redraws loss.png from loss.csv: `gnuplot loss.gp` in this folder.
set terminal pngcairo size 900,500 font ",10"
set output "loss.png"
set datafile separator ","
set datafile missing "nan"
set key autotitle columnhead top right
set xlabel "optimizer step, stages laid end to end (stage 1: 4,096 tokens per step; 2-4: 2,048)"
set ylabel "training loss (nats per target byte)"
set logscale y
set grid
# x: the step plus the steps of the stages before it (3,200, 500, 3,000)
off(s) = s == 1 ? 0 : s == 2 ? 3200 : s == 3 ? 3700 : 6700
plot "loss.csv" using (off($1) + $2):6 with lines lw 1 title "corpus rows", \
     "" using (off($1) + $2):7 with lines lw 1 title "arith rows", \
     "" using (off($1) + $2):8 with lines lw 1 title "recall rows"
