"""The acting layer: envs, exploration noise, n-step transitions, episode recording and the collector.

``envs`` (every agent's envs, in this process or an env worker), ``worker`` (the pipe-served child process),
``noise`` (OU and Gaussian), ``nstep``, ``episodes`` (EpisodeRecorder, run_episodes) and ``collector``
(one vector step of K agents, read top to bottom). No torch is imported here: the env worker loads none.
"""
