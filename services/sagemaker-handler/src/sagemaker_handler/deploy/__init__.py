"""SageMaker deploy tooling, one module per job.

Every AWS call goes through boto3 (``client.AwsOps.call``), so a moto server or botocore's
Stubber sees each call and its parameters, and ``--dry-run`` can print them instead.

- ``client``: the boto3 wrapper, resource names, uploads, the one polling loop
- ``images``: framework and Model Monitor image URIs (the sagemaker SDK, offline)
- ``endpoint``: the endpoint lifecycle: deploy (create or blue/green update), wait, status, delete
- ``invoke``: calling a deployed endpoint and checking its answer (the ``test`` command)
- ``autoscale``: target-tracking scaling of a variant
- ``monitor``: Model Monitor data-quality baseline and schedule
- ``batch``: Batch Transform jobs
"""
