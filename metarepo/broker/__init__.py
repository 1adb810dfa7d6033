"""The message broker's topology, from the contract graph: plan, apply, check, probe (RabbitMQ).

- ``settings``: an environment's ``broker`` setting; credentials from the environment only.
- ``plan``: ``plan_topology(flows, settings, names)``, pure: exchanges, each consumer's work,
  attempt, retry and error queues, bindings; bad input (contradicting AsyncAPI bindings,
  names RabbitMQ refuses) refused before any call. ``topology``: the values.
- ``client``: the HTTP management API (``requests``); ``amqp``: AMQP (``pika``), for real-time
  queue counts and the probe's exclusive queues. ``live``: what a vhost holds now.
- ``apply``, ``check``, ``probe``: the commands' capabilities; ``gate``: the rollout pre-flight.
"""
