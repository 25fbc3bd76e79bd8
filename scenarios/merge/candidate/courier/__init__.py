"""courier: the team's late-delivery model, from the scanners' parcel export to a predict function.

Modules, in the order the data flows through them:

- ``data``      load the parcel export, split it into training and validation parts
- ``preprocessing`` the model's inputs from a parcel's columns (``build_features``) and their scaling
- ``model``     the network (``build_model``) and its parameter count
- ``train``     the training loop
- ``evaluate``  predicted probabilities and the validation AUC
- ``checks``    checks of the export before training (weight units per hub)
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

The grader calls these functions by name, so keep their names and signatures; change anything
inside them.
"""
