set terminal pngcairo size 800,450 noenhanced
set output "/work/wt-proxybench/docs/perf-inline.png"

set title "throughput through the gateway / kernel-only (median, min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.5
set yrange [0:*]
set ylabel "ratio to kernel-only"
set key top right
plot "bench/results/2026-12-06/inline.dat" using 3:4:5:xtic(2) title "accept-all reader", "" using 6:7:8 title "dpixd", 0.95 with lines dt 2 lc rgb "black" title "target 0.95"
