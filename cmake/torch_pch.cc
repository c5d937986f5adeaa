// Empty: the object library amrs_torch_pch exists only to build the shared <torch/torch.h> PCH.
