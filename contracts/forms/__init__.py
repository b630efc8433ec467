"""The portal's forms for contracts, customers and verification policies: their inputs, and the JSON bodies
they post to the services the API calls."""
