set terminal pngcairo size 800,450 noenhanced
set output "/work/wt-proxybench/docs/perf-replay.png"

set title "dpix replay throughput (Mpackets/s wall, median, min-max)"
set style fill solid 0.5
set boxwidth 0.6
set yrange [0:*]
set ylabel "Mpackets/s"
plot "bench/results/2026-12-06/throughput.dat" using 1:3:xtic(2) with boxes notitle, "" using 1:3:4:5 with yerrorbars notitle lc rgb "black"
