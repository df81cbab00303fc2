// TorchSerialization reads the files `torch.save` writes without running Python and without executing
// anything a file says: a restricted unpickler (`Unpickler`) turns the pickle program into inert values
// (`PickleValue`), tensors are rebuilt from their storages only through `torch._utils._rebuild_tensor_v2`
// and `_rebuild_parameter`, and every other class becomes an `PickleObject` record of its name and the
// state its `BUILD` would set. `TorchCheckpoint` handles the two containers (the zip archive of torch ≥ 1.6
// and the legacy stream of earlier versions); `TorchCheckpointWriter` writes the zip container for tests
// and fixtures. Every size an input claims is checked against `PickleLimits` and against the bytes that
// are actually there before anything is allocated.
