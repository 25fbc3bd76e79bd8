"""textlab: the team's support-ticket classifier, from the ticket texts to a predict function.

Modules, in the order the data flows through them:

- ``data``      load the tickets, split them, tokenize, the vocabulary, token ids into bags
- ``model``     the network (``build_model``) and its parameter count
- ``train``     the device, mini-batches, the loss, the optimiser, the loop
- ``evaluate``  predicted classes and validation metrics
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

Everything runs on the CPU (``train.pick_device``). The grader calls these functions by name, so
keep their names and signatures; change anything inside them.
"""
