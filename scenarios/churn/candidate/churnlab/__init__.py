"""churnlab: the team's churn model, from the CRM export to a predict function.

Modules, in the order the data flows through them:

- ``data``      load the CRM export, split it into training and validation parts
- ``features``  turn raw columns into the model's numeric inputs (``FeatureEncoder``)
- ``model``     the network (``build_model``) and its parameter count
- ``train``     mini-batches, the loss, the training loop
- ``evaluate``  predicted probabilities and validation metrics
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

The grader calls these functions by name, so keep their names and signatures; change
anything inside them.
"""
