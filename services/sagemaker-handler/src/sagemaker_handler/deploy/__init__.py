"""SageMaker deploy tooling, one module per job.

Every AWS call goes through boto3 (``client.AwsOps.call``), so a moto server or botocore's
Stubber sees each call and its parameters, and ``--dry-run`` can print them instead.

- ``client``: the boto3 wrapper, resource names, uploads, the one polling loop
- ``images``: framework and Model Monitor image URIs (the sagemaker SDK, offline)
- ``endpoint``: deploy (create, or a blue/green update), wait, the endpoint's model
- ``variants``: one variant or A/B (two models, weights); ``status`` of every variant
- ``traffic``: new weights for the variants in place (promote, roll back)
- ``rollout``: canary / linear DeploymentConfig of an update, with alarm rollback
- ``alarms``: the CloudWatch alarms that guard a rollout (create, take by name, delete)
- ``teardown``: ``delete``: schedules, alarms, scaling, endpoint, configs, models
- ``invoke``: calling a deployed endpoint and checking its answer (the ``test`` command)
- ``autoscale``: target-tracking scaling of a variant
- ``monitor``: Model Monitor data-quality baseline and schedule
- ``batch``: Batch Transform jobs
"""
