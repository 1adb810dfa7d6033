"""Docker images and their rollout: build, push, and health-gated deploys to Swarm or Kubernetes.

The docker SDK is imported only here, and only inside the functions that
talk to an engine, so ``meta --help`` never pays for it.

- ``release``: what a rollout deploys (``Release``) and the ``Target`` interface.
- ``kubernetes_manifests``: a release's Deployment and Service, rendered through
  ``metarepo.templating`` and validated offline; ``kubernetes``: the kubectl target.
- Image names are ``metarepo.image_reference``'s, shared with the CI pipelines.
"""
