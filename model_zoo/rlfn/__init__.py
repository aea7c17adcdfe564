"""RLFN (Kong et al., CVPRW 2022): residual local feature network, official x4 checkpoint."""
