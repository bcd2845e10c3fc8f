"""Variational autoencoder (Kingma and Welling, 2014, https://arxiv.org/abs/1312.6114)
and the plain autoencoder built from the same encoder and decoder."""

import math

import keras
from keras import ops

from zoo.models.dtype_policy import builds_in_policy, config_value
from zoo.models.validation import check_choice, check_positive, pair

_LOG_2PI = math.log(2.0 * math.pi)


def build_encoder(image_hw, num_channels, filters, hidden_dim, latent_dim, variational):
    """Strided convolutions -> dense -> `z_mean` (and `z_log_var` when variational)."""
    images = keras.Input(shape=(*image_hw, num_channels), name="images")
    x = images
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(
            width, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}"
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")(x)
    outputs = {"z_mean": keras.layers.Dense(latent_dim, name="z_mean")(x)}
    if variational:
        outputs["z_log_var"] = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(images, outputs, name="encoder")


def build_decoder(image_hw, num_channels, filters, hidden_dim, latent_dim):
    """Dense -> transposed convolutions -> per-pixel logits (or means)."""
    scale = 2 ** len(filters)
    low_h, low_w = image_hw[0] // scale, image_hw[1] // scale
    z = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")(z)
    x = keras.layers.Dense(low_h * low_w * filters[-1], activation="relu", name="expand")(x)
    x = keras.layers.Reshape((low_h, low_w, filters[-1]), name="reshape")(x)
    for i, width in enumerate(reversed(filters)):
        x = keras.layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", activation="relu", name=f"deconv_{i}"
        )(x)
    x = keras.layers.Conv2DTranspose(
        num_channels, 3, padding="same", name="pixels", dtype="float32"
    )(x)
    return keras.Model(z, x, name="decoder")


@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(keras.Model):
    """A deterministic convolutional autoencoder; `VAE` adds the variational part.

    `fit(images)` trains it on its reconstruction loss (nats per image);
    `call` returns a dict with `reconstruction_logits` and `z_mean`.

    Args:
        image_size: int or (height, width). Divisible by `2 ** len(filters)`.
        num_channels: int.
        latent_dim: int.
        filters: list of int. Widths of the strided convolutions.
        hidden_dim: int. Dense width between the convolutions and the latent.
        likelihood: "bernoulli" (images in [0, 1], binarised or grey) or
            "gaussian" (a learned global standard deviation).

    Example:

    >>> import numpy as np, zoo
    >>> ae = zoo.build("ae_tiny", image_size=8)
    >>> tuple(ae.reconstruct(np.zeros((2, 8, 8, 1), "float32")).shape)
    (2, 8, 8, 1)
    """

    variational = False

    @builds_in_policy
    def __init__(
        self,
        image_size=28,
        num_channels=1,
        latent_dim=16,
        filters=(32, 64),
        hidden_dim=256,
        likelihood="bernoulli",
        **kwargs,
    ):
        image_hw = pair("image_size", image_size)
        filters = list(filters)
        if not filters:
            raise ValueError("filters must list at least one convolution width, got [].")
        check_positive(num_channels=num_channels, latent_dim=latent_dim, hidden_dim=hidden_dim)
        for i, width in enumerate(filters):
            check_positive(**{f"filters[{i}]": width})
        check_choice("likelihood", likelihood, {"bernoulli", "gaussian"})
        scale = 2 ** len(filters)
        for side in image_hw:
            if side % scale:
                raise ValueError(
                    f"image_size={image_size} must be divisible by 2 ** len(filters) = {scale} "
                    f"({len(filters)} strided convolutions); change image_size or filters."
                )
        super().__init__(**kwargs)
        self.encoder = build_encoder(
            image_hw, num_channels, filters, hidden_dim, latent_dim, self.variational
        )
        self.decoder = build_decoder(image_hw, num_channels, filters, hidden_dim, latent_dim)
        if likelihood == "gaussian":
            self.log_sigma = self.add_weight(name="log_sigma", shape=(), initializer="zeros")
        self.seed_generator = keras.random.SeedGenerator(0)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.image_size = list(image_size) if isinstance(image_size, (list, tuple)) else image_size
        self.num_channels = num_channels
        self.latent_dim = latent_dim
        self.filters = filters
        self.hidden_dim = hidden_dim
        self.likelihood = likelihood
        self.built = True

    # --- Model API ----------------------------------------------------------

    def _latent(self, images, training=False):
        """`(z_mean, z_log_var or None)` in float32 under any dtype policy (as the decoder's
        logits are): sampling and the KL term need its range (see `kl_divergence`)."""
        codes = self.encoder(images, training=training)
        z_log_var = codes.get("z_log_var")
        return (ops.cast(codes["z_mean"], "float32"),
                None if z_log_var is None else ops.cast(z_log_var, "float32"))

    def call(self, images, training=None):
        z_mean, z_log_var = self._latent(images, training=training)
        z = z_mean
        if self.variational and training:
            z = self.reparameterize(z_mean, z_log_var)
        outputs = {"reconstruction_logits": self.decoder(z, training=training), "z_mean": z_mean}
        if z_log_var is not None:
            outputs["z_log_var"] = z_log_var
        return outputs

    def reparameterize(self, z_mean, z_log_var):
        """`z_mean + exp(z_log_var / 2) * eps`, `eps ~ N(0, I)`, in float32."""
        z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def _pixels(self, logits):
        return ops.sigmoid(logits) if self.likelihood == "bernoulli" else logits

    def encode(self, images):
        """Latent means (and log-variances for the VAE) of `images`."""
        z_mean, z_log_var = self._latent(ops.convert_to_tensor(images, "float32"))
        return z_mean if z_log_var is None else (z_mean, z_log_var)

    def decode(self, z):
        """Images (pixel probabilities or means) for latent codes `z`."""
        return self._pixels(self.decoder(ops.convert_to_tensor(z, "float32"), training=False))

    def reconstruct(self, images):
        """Decodes the latent means of `images`."""
        z_mean, _ = self._latent(ops.convert_to_tensor(images, "float32"))
        return self._pixels(self.decoder(z_mean, training=False))

    # --- Loss ---------------------------------------------------------------

    def reconstruction_nats(self, images, logits):
        """Negative log-likelihood of `images` in nats, one value per image."""
        images = ops.cast(images, "float32")
        if self.likelihood == "bernoulli":
            per_pixel = ops.maximum(logits, 0.0) - logits * images + ops.log1p(
                ops.exp(-ops.abs(logits))
            )
        else:
            sigma = ops.exp(self.log_sigma)
            per_pixel = 0.5 * ops.square((images - logits) / sigma) + self.log_sigma + 0.5 * _LOG_2PI
        return ops.sum(ops.reshape(per_pixel, (ops.shape(images)[0], -1)), axis=-1)

    def _terms(self, images, logits, z_mean, z_log_var):
        terms = {"reconstruction": self.reconstruction_nats(images, logits)}
        if z_log_var is not None:
            terms["kl"] = kl_divergence(z_mean, z_log_var)
        return terms

    def elbo_terms(self, images, training=False, sample=True):
        """The terms of the negative ELBO of each image, in nats: `{"reconstruction": [n],
        "kl": [n]}` (the KL in closed form; the autoencoder has no KL term, only
        "reconstruction"). Their sum is the negative ELBO (`negative_elbo`).

        The decoder reads one sample of z from q(z|x) (`sample=True`: the ELBO's one-sample
        estimate, drawn with the model's seed generator) or its mean (`sample=False`). This
        is the one implementation of the bound: training's objective (`zoo.tasks.
        image_generation`, sampling only while training), the harness's scores and
        `negative_elbo` all call it.
        """
        images = ops.convert_to_tensor(images, "float32")
        z_mean, z_log_var = self._latent(images, training=training)
        z = z_mean if z_log_var is None or not sample else self.reparameterize(z_mean, z_log_var)
        logits = self.decoder(z, training=training)
        return self._terms(images, logits, z_mean, z_log_var)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images = x
        if y_pred is None:
            y_pred = self(images, training=training)
        terms = self._terms(images, y_pred["reconstruction_logits"], y_pred["z_mean"],
                            y_pred.get("z_log_var"))
        reconstruction = ops.mean(terms["reconstruction"])
        self.reconstruction_tracker.update_state(reconstruction)
        loss = reconstruction
        if "kl" in terms:
            kl = ops.mean(terms["kl"])
            self.kl_tracker.update_state(kl)
            loss = loss + kl
        return loss

    # --- Config -------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": config_value(self),
            "image_size": self.image_size,
            "num_channels": self.num_channels,
            "latent_dim": self.latent_dim,
            "filters": self.filters,
            "hidden_dim": self.hidden_dim,
            "likelihood": self.likelihood,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) in nats, one value per example, computed in float32 whatever the
    inputs' dtype: in float16 `exp(z_log_var)` overflows from a log-variance of 11.1.

    >>> import numpy as np
    >>> float(kl_divergence(np.zeros((1, 8), "float16"), np.full((1, 8), 12, "float16"))[0])
    650967.125
    """
    z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class VAE(Autoencoder):
    """A convolutional VAE: reparameterised sampling and a loss of reconstruction + KL.

    Training reports `reconstruction_loss` and `kl_loss` (nats per image)
    separately; their sum is the negative ELBO. Arguments are those of
    `Autoencoder`.

    Example:

    >>> import numpy as np, zoo
    >>> vae = zoo.build("vae_tiny", image_size=8)
    >>> tuple(vae.sample(3, seed=0).shape)
    (3, 8, 8, 1)
    """

    variational = True

    def sample(self, n, seed=None):
        """`n` images decoded from the prior N(0, I)."""
        check_positive(n=n)
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decode(z)

    def negative_elbo(self, images):
        """Negative ELBO per image in nats, with the KL in closed form and one sample of z:
        the sum of `elbo_terms`."""
        terms = self.elbo_terms(images)
        return terms["reconstruction"] + terms["kl"]
