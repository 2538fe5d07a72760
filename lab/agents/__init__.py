"""The learning layer: K agents' actors and twin critics stacked for one batched TD3 update.

``networks`` (one agent's Actor and TwinCritic, and their stacks), ``td3`` (the batched update and its pure
target functions), ``adam`` (Adam with a rate per agent), ``slots`` (which agents the stacks hold),
``replay`` (a ring per agent, uniform or prioritized) and ``sumtree``. Nothing here knows about envs or runs.
"""
