"""The cluster files shipped with nqs_dilated (installed as the data package ``nqs_dilated.lattices``;
see :func:`nqs_dilated.lattice.lattice_dir`)."""
