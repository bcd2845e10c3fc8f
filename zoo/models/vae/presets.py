"""VAE and autoencoder variants (data only). All default to 28x28x1 images."""

PAPER = "Kingma and Welling, 2014. Auto-Encoding Variational Bayes. https://arxiv.org/abs/1312.6114"

# size: (arguments, description, VAE parameters, autoencoder parameters)
_SIZES = {
    "tiny": ({"latent_dim": 8, "filters": [16, 32], "hidden_dim": 128},
             "2 conv layers (16, 32), 128 hidden, 8 latent", 425_137, 424_105),
    "small": ({"latent_dim": 16, "filters": [32, 64], "hidden_dim": 256},
              "2 conv layers (32, 64), 256 hidden, 16 latent", 1_696_097, 1_691_985),
    "base": ({"latent_dim": 32, "filters": [32, 64], "hidden_dim": 512},
             "2 conv layers (32, 64), 512 hidden, 32 latent", 3_339_137, 3_322_721),
}

PRESETS = {}
for _size, (_config, _text, _vae_params, _ae_params) in _SIZES.items():
    _base = {"image_size": 28, "num_channels": 1, "likelihood": "bernoulli", **_config}
    PRESETS[f"vae_{_size}"] = {"config": dict(_base), "params": _vae_params, "task": "vae",
                               "description": f"Convolutional VAE: {_text}."}
    PRESETS[f"ae_{_size}"] = {"config": dict(_base), "params": _ae_params, "task": "autoencoder",
                              "description": f"Plain autoencoder with the VAE's encoder and decoder: {_text}."}
