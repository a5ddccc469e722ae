"""Local runtime for Oversight: serves template.yaml's functions over HTTP
against emulated AWS (moto). Development tooling only: not deployed."""
