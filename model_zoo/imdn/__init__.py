"""IMDN (Hui et al., ACM MM 2019): information multi-distillation network, official x4 checkpoint."""
