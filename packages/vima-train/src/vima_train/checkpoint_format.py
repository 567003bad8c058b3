"""The vima-train checkpoint format: where its metadata lives and which version it is (kept
apart from the LightningModule so reading a checkpoint does not import Lightning)."""

#: Key of the vima-train metadata in a checkpoint.
META_KEY = "vima_train"
CHECKPOINT_FORMAT = 1
