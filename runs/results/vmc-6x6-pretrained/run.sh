#!/bin/bash
# The runs of this directory (pretrained.py: the amplitude fitted to eps = 0.005 of the exact data,
# then VMC under the exact sign), each on a core of its own (taskset -c 0 or 1) under
# /usr/bin/time -v, its report copied to <run>/time.txt and its stdout to <run>/run.log.
cd "$(dirname "$0")/../../.."
P="taskset -c ${CORE:-0} .venv/bin/python runs/results/vmc-6x6-pretrained/pretrained.py"
$P --j2 1.3                                                  # dilated CNN 32,32,32, 200 VMC iterations at 0.005
$P --j2 1.0
$P --j2 1.0 --gcnn 16,16,16,16 --steps 1200 --n-iter 120     # G-CNN
$P --j2 1.3 --n-iter 500 --lr-final 0.002                    # 500 VMC iterations, step 0.005 -> 0.002
