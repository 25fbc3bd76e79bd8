"""demandcast: the team's daily demand forecast, from the tills' sales export to a predict function.

Modules, in the order the data flows through them:

- ``data``      load the sales export, split it into training and validation parts
- ``features``  calendar, recent-demand and store features (``FeatureBuilder``)
- ``model``     the network (``build_model``) and its parameter count
- ``train``     tensors, the loss, the training loop
- ``evaluate``  predictions and the validation error
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

The grader calls these functions by name, so keep their names and signatures; change
anything inside them.
"""
