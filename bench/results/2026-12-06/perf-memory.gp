set terminal pngcairo size 800,450 noenhanced
set output "/work/wt-proxybench/docs/perf-memory.png"

set title "peak RSS vs flows alive"
set xlabel "flows"
set ylabel "MiB"
set key top left
plot "bench/results/2026-12-06/memory.dat" index 0 using 1:2 with linespoints title "dpix partial", "bench/results/2026-12-06/memory.dat" index 1 using 1:2 with linespoints title "dpix syn", "bench/results/2026-12-06/memory.dat" index 2 using 1:2 with linespoints title "ndpiReader partial", "bench/results/2026-12-06/memory.dat" index 3 using 1:2 with linespoints title "ndpiReader syn"
