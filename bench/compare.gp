# gnuplot -e "dat='…/compare.dat'; out='…/compare.png'; kernels='K1 K2'" bench/compare.gp
# One row of panels per guest kernel: cold sequential MB/s and 4k random-read
# IOPS at QD 1 and QD 32 (log scale), per system.
blocks = words(kernels)
set terminal pngcairo size 1500,500*blocks font ",9"
set output out
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 left
set grid ytics
set key off
set bmargin 12
set multiplot layout blocks,3
do for [b=0:blocks-1] {
    set title sprintf("guest %s: cold 1 MiB sequential, MB/s", word(kernels, b + 1)) noenhanced
    set logscale y
    plot dat index b using 2:xtic(1) lc rgb "#4477aa"
    set title "4k random read, QD 1, IOPS"
    plot dat index b using 3:xtic(1) lc rgb "#66ccee"
    set title "4k random read, QD 32, IOPS"
    plot dat index b using 4:xtic(1) lc rgb "#228833"
}
unset multiplot
