"""Side-by-side training-step speed, memory and operation counts of GreenMIM and a baseline.

The logic of ``tools/analysis_tools/benchmark.py`` (a thin CLI over :func:`run.main`) and of
``tools/analysis_tools/gpu_check.py``. Both models are built from configs (ours:
``configs/greenmim_swin_b_pretrain.py``; SimMIM: ``configs/benchmark/simmim_swin-b_224.py``,
mmpretrain's SimMIM Swin-B at our input size; with ``--model twins`` GreenMIM on Twins-SVT-L
against the same model run densely) with their configs' optimizers (AdamW). A step is what
the runner does each iteration: ``model.train_step`` = data preprocessing, forward, loss,
backward, gradient clipping where the config asks for it, AdamW step, zero grad.

- Time (:mod:`.timing`): one process holds both models, warms each up, then alternates them
  step by step so that machine noise hits both alike; median, min/max, images/s and the
  ratio are reported. ``--compile`` wraps the contenders with ``torch.compile`` first.
- Memory (:mod:`.memory_probe`): each model in its own process. "Step memory" is the peak
  during one step minus the memory before it (after warm-up steps): on CPU peak RSS (the
  high-water mark is reset by writing 5 to /proc/self/clear_refs) minus RSS, on CUDA
  ``torch.cuda.max_memory_allocated`` minus ``memory_allocated``. Two choices make it the
  memory of the step's own work (activations, temporaries) and repeatable: gradient buffers
  stay allocated between steps (``zero_grad(set_to_none=False)``, for both models), so they
  count as state like the AdamW moments; and before each measured step the C allocator
  returns its free memory to the system (glibc ``malloc_trim``). Without the trim the same
  step of the same model measured anywhere between 0 and 350 MB, depending on what the
  previous step left in the heap. For the same reason the memory processes run with glibc's
  mmap threshold fixed at 128 KiB (``MALLOC_MMAP_THRESHOLD_``, unless already set): by default
  glibc raises it after every large free, so the blocks of one step come from the heap and a
  freed block whose neighbours are still in use stays resident; at 224 px batch 2 that read
  142-164 MB for a step that needs 69 MB (bf16) and 111-121 MB for 79 MB (fp32).
  "Total peak" is the process's peak RSS over everything (model, optimizer state,
  gradients, steps).
- Operation counts (``--profile``, :mod:`.op_counts`): ATen operations, casts and bytes cast
  per step, and the top operations by time (torch.profiler).
- GreenMIM internals (:func:`.timing.greenmim_internals`): the share of its step spent
  computing the grouping (the encoder's ``sparse_plan``: token sets, window packing, masks,
  merge indices) and the padding of every stage (empty group slots / visible tokens).
- A sweep over input size and mask ratio shows how the cost grows with the work.
"""
