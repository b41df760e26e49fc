"""The Faust shell around the pure engine: app factory, agents, topic admin, Redis projections."""
