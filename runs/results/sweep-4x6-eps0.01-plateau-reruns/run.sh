#!/bin/bash
# The 8 runs of ../sweep-4x6-eps0.01/ that early stopping ended on the initial plateau (best epoch
# <= 4, test overlap <= 0.04), redone with the plateau-aware early stopping and the same settings
# (40 epochs of batch 1024, patience 8 epochs = 211 steps, Adam 1e-3, 32 channels / 512 hidden):
# J2/J1 0.6 cnn 0, 0.8 cnn 1, 1.0 dilated 0, 1.0 cnn 0 and 1, 1.2 cnn 0, 1.2 dense 1, 1.4 cnn 0.
# One at a time on core ${CORE:-1}; then combine.py.
cd "$(dirname "$0")/../../.."
HERE=runs/results/sweep-4x6-eps0.01-plateau-reruns
one() {  # j2 model seed
  taskset -c ${CORE:-1} .venv/bin/nqs-dilated sweep --lattice triangular-4x6 --j2 $1 --model $2 \
    --seed $3 --seeds 1 --eps 0.01 --epochs 40 --patience 211 --batch-size 1024 --workers 1 --quiet \
    --out $HERE/j2=$1_$2_seed=$3 >> $HERE/run.log 2>&1
}
one 0.6 cnn 0; one 0.8 cnn 1; one 1.0 dilated 0; one 1.0 cnn 0; one 1.0 cnn 1; one 1.2 cnn 0; one 1.2 dense 1; one 1.4 cnn 0
