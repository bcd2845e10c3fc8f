"""The VAE family: a variational autoencoder and the plain autoencoder with its encoder and
decoder (see `zoo.models.family`). Both serve image generation, each variant with its own
head (its preset's "task")."""

from zoo.models import fixtures
from zoo.models.family import Family, Fixtures, Head, Part
from zoo.models.vae import presets

_PARTS = {"vae": Part("zoo.models.vae.export:vae",
                      "encode(images), decode(z), sample(num_samples, seed)")}


def _training_batch(model, batch=8, seed=0):
    """Images only: the model has its own loss (`compute_loss`)."""
    return fixtures.image_batch(model, batch, seed), None, None


FAMILY = Family(
    name="vae",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"vae": Head("zoo.models.vae.vae:VAE", parts=_PARTS),
           "autoencoder": Head("zoo.models.vae.vae:Autoencoder", parts=_PARTS)},
    default_head="vae",
    serves={"image_generation": None},
    fixtures=Fixtures(
        tiny={"vae_tiny": {"image_size": 8}, "ae_tiny": {"image_size": 8}},
        cases=(("vae_tiny", None, {"image_size": 8}),
               ("vae_tiny", None, {"image_size": 8, "likelihood": "gaussian"}),
               ("ae_tiny", None, {"image_size": 8})),
        example_inputs=fixtures.image_batch,
        training_batch=_training_batch,
    ),
)
