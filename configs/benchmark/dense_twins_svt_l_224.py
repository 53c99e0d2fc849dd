# The dense baseline of `tools/analysis_tools/benchmark.py --model twins`:
# configs/greenmim_twins_svt_l_pretrain.py with the same SVT-L run densely on the whole image
# (masked units zeroed, SimMIM-style), the same decoder, loss and optimizer (GreenMIMDenseBaseline).
_base_ = ['../greenmim_twins_svt_l_pretrain.py']

model = dict(type='GreenMIMDenseBaseline')
