"""entrasync: keep NeuralTrust users in line with Microsoft Entra ID groups, the GitOps way."""

__version__ = "0.2.0.dev0"
