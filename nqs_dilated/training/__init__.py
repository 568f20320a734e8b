"""Training loops: the supervised sign fit, the amplitude fit and VMC, as drivers in NetKet's style.

=================================== =============================================================
module                              holds
=================================== =============================================================
:mod:`.driver`                      :class:`~.driver.FitDriver`: NetKet's ``run`` loop for the fits
:mod:`.sign`, :mod:`.sign_steps`    the sign fit (:class:`~.sign.SignFit`, :func:`~.sign.train_sign`)
:mod:`.amplitude`                   the amplitude fit, VMC's pretraining (:class:`~.amplitude.AmplitudeFit`)
:mod:`.vmc`, :mod:`.minsr`          VMC with SR/minSR (:func:`~.vmc.optimise`, NetKet's ``VMC_SR``)
:mod:`.wavefunction`                VMC wave functions and states (modes, sign sources)
:mod:`.callbacks`, :mod:`.progress` early stopping, checkpointing, the step guard, progress bars
:mod:`.checkpoint`                  the one checkpoint format; :mod:`.vmc_checkpoint` VMC's content
=================================== =============================================================
"""
