"""digitlab: the team's digit classifier, from the scanned images to a predict function.

Modules, in the order the data flows through them:

- ``data``      load the images, split them, turn pixel columns into image tensors
- ``augment``   random rotations and inversions for training, and mini-batches
- ``model``     the network (``build_model``) and its parameter count
- ``train``     the device, the loss, the optimiser, the learning-rate schedule, the loop
- ``evaluate``  predicted classes and validation metrics
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

Everything runs on the GPU when the kernel has one (``train.pick_device``), on the CPU otherwise.
The grader calls these functions by name, so keep their names and signatures; change anything
inside them.
"""
