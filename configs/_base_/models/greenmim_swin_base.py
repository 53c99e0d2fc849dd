# GreenMIM on Swin-B, window 7, 224 px (Huang et al., NeurIPS 2022, arXiv 2205.13515).
# The encoder sees only the visible 32-px units; the decoder is one transformer block.
model = dict(
    type='GreenMIM',
    mask_ratio=0.75,  # 12 of the 49 units of a 224x224 image stay visible
    mask_unit=32,  # must equal the encoder's total stride (patch 4 x 2**3 merges)
    per_sample_mask=False,  # one mask per batch (per rank), as in the paper
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='GreenMIMSwinTransformer',
        arch='base',
        img_size=224,
        window_size=7,
        drop_path_rate=0.0,
        out_indices=(3, ),
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ]),
    neck=dict(
        type='GreenMIMPretrainDecoder',
        patch_size=32,
        in_chans=3,
        embed_dim=1024,  # 8 * embed_dims of Swin-B
        decoder_embed_dim=512,
        decoder_depth=1,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='GreenMIMPretrainHead',
        norm_pix=True,
        patch_size=32,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))
