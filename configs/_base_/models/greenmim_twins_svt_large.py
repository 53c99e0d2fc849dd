# GreenMIM on Twins-SVT-L (Chu et al., NeurIPS 2021, arXiv 2104.13840), 224 px, as the
# authors' `green_mim_twins_large_patch4_dec512b1` (their "ALTGVT"): embed 128/256/512/1024,
# depths 2/2/18/2, heads 4/8/16/32, local windows 7, spatial reduction 8/4/2/1, qkv bias,
# LayerNorm eps 1e-6, a final norm after the last stage, decoder 512 x 1 block, norm-pix loss.
# mmpretrain's SVT 'large' arch is that model. (Its patch embeddings' LayerNorms are fixed to
# mmpretrain's eps 1e-5; the authors use 1e-6 there too.)
ln_cfg = dict(type='LN', eps=1e-6)
model = dict(
    type='GreenMIM',
    mask_ratio=0.75,  # 12 of the 49 units of a 224x224 image stay visible
    mask_unit=32,  # = the backbone's declared mask_unit (patch 4 x stride 2 x 2 x 2)
    per_sample_mask=False,  # one mask per batch (per rank), as in the paper
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='GreenMIMSVT',
        arch='large',
        qkv_bias=True,
        drop_path_rate=0.0,
        norm_cfg=ln_cfg,
        norm_after_stage=[False, False, False, True],
        out_indices=(3, )),  # PCPVT.init_weights: trunc-normal linears, fan-out convs
    neck=dict(
        type='GreenMIMPretrainDecoder',
        patch_size=32,
        in_chans=3,
        embed_dim=1024,  # last-stage width of SVT-L
        decoder_embed_dim=512,
        decoder_depth=1,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='GreenMIMPretrainHead',
        norm_pix=True,
        patch_size=32,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))
