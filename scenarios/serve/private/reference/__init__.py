"""fareapi: the team's fare-quote service, from the rides to a model behind an HTTP endpoint.

Modules, in the order the data flows through them:

- ``data``      load the rides, clean them, split them
- ``features``  the model's inputs from the five request columns, and their statistics
- ``model``     the network (``build_model``), its parameter count, saving and loading it
- ``train``     mini-batches, the loss, the optimiser, the loop
- ``evaluate``  fares from the model, validation metrics
- ``service``   the request logic: ``PredictionService(artifacts).handle(method, path, content_type, body)``
- ``serve``     the HTTP server around it: ``python -m fareapi.serve --host 127.0.0.1 --port 8080``
- ``pipeline``  everything above, end to end: ``fit_predictor(workspace, seed)``

Everything runs on the CPU. The grader calls these functions by name and starts ``fareapi.serve``
as the brief says, so keep their names and signatures; change anything inside them.
"""
