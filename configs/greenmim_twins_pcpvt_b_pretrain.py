# GreenMIM pre-training of Twins-PCPVT-B (embed 64/128/320/512, depths 3/4/18/3, global
# sub-sampled attention only, sr 8/4/2/1) on ImageNet-1K at 224 px, with the recipe of
# configs/greenmim_twins_svt_l_pretrain.py (the authors ship PCPVT code but no PCPVT run).
#   python tools/train.py configs/greenmim_twins_pcpvt_b_pretrain.py [--amp] [--auto-scale-lr]
_base_ = ['./greenmim_twins_svt_l_pretrain.py']

model = dict(
    backbone=dict(type='GreenMIMPCPVT', arch='base'),
    neck=dict(embed_dim=512))  # last-stage width of PCPVT-B
