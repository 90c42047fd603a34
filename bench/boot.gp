# gnuplot -e "dat='…/boot.dat'; out='…/boot.png'; title='…'" bench/boot.gp
# Time from kernel start to the root mounted and to the booted root's marker
# (after the 96 MiB file the check reads), per boot mode (bench/run-boot-bench.sh).
set terminal pngcairo size 1100,520 font ",9"
set output out
set title title noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 left noenhanced
set grid ytics
set ylabel "seconds from kernel start"
set yrange [0:*]
set key above
set bmargin 8
set rmargin 18
plot dat using 2:xtic(1) title "root mounted" lc rgb "#66ccee", \
     "" using 3 title "marker (booted, 96 MiB file read)" lc rgb "#4477aa"
