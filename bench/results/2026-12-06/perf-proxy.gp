set terminal pngcairo size 800,450 noenhanced
set output "/work/wt-proxybench/docs/perf-proxy.png"

set title "CONNECT tunnels: each proxy / squid (median, min-max; haproxy: tcp mode, no CONNECT)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.5
set yrange [0:*]
set ylabel "ratio to squid"
set key top right
plot "bench/results/2026-12-06/proxy.dat" using 3:4:5:xtic(2) title "dpixd", "" using 6:7:8 title "tinyproxy", "" using 9:10:11 title "haproxy (tcp)", 1 with lines dt 2 lc rgb "black" title "squid"
