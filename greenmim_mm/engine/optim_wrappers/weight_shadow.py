"""Mixed-precision optimizer wrappers that keep a reduced-precision shadow of the weights.

Under autocast the lean layers of the sparse backbones read one reduced-precision copy of
each weight per optimizer step, kept by the wrapper as state next to the optimizer's
(:class:`~greenmim_mm.models.utils.precision.shadow_store.WeightShadow`), instead of casting it in
forward and again in backward. The copy is refreshed after every ``optimizer.step()`` (a
post-step hook, so also when a loss scaler or user code calls the optimizer) and never
enters ``state_dict()`` or checkpoints. It costs one reduced-precision copy of the weights
the lean layers read (2 bytes per parameter, held between steps).
"""
from greenmim_mm.models.utils.precision.shadow_store import WeightShadow


class WeightShadowMixin:
    """Keep the optimizer's parameters' reduced-precision shadows; refresh them after each step.

    Put it before an ``AmpOptimWrapper`` subclass in the bases.

    Args:
        shadow_weights (bool): Keep the shadow. False: the lean layers cast each weight in
            forward and again in backward (no memory held between steps). Defaults to True.
        **kwargs: Arguments of the wrapped ``OptimWrapper`` class.
    """

    def __init__(self, *args, shadow_weights: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.weight_shadow = None
        if shadow_weights:
            params = [p for group in self.optimizer.param_groups for p in group['params']]
            shadow = self.weight_shadow = WeightShadow(params)
            self._shadow_refresh = self.optimizer.register_step_post_hook(
                lambda optimizer, args, kwargs: shadow.refresh())
