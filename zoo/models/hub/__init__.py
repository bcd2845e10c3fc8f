"""The "hub" family: zoo models built on TF Hub handles (`zoo.hub.HubLayer`)."""
