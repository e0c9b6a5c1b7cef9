"""Prints, as JSON, the aggregate figures the Django app computes through its ORM (run by manage.py shell)."""
import json
from decimal import Decimal

from django.db.models import Avg, Count, F, Max, Min, Q, Sum
from django.db.models.functions import TruncMonth
from stock.models import Commande, Facture, Historique, Produit, ProduitEntrepot, Retour


def plain(value):
    # Django on SQLite returns aggregates of decimals unquantized (20627.5200000000): compare the numbers.
    if isinstance(value, Decimal):
        return str(value.normalize())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


figures = {
    "orders": Commande.objects.aggregate(n=Count("code_cmd"), total=Sum("montant_commande"), biggest=Max("montant_commande"),
                                         first=Min("date_commande"), last=Max("date_commande")),
    "revenue_recomputed": plain(sum((c.quantite_cmd * c.produit.prix_unit for c in Commande.objects.select_related("produit")), Decimal("0"))),
    "by_month_paris": [(plain(row["month"]), row["n"], plain(row["total"])) for row in
                       Commande.objects.annotate(month=TruncMonth("date_commande")).values("month")
                       .annotate(n=Count("code_cmd"), total=Sum("montant_commande")).order_by("month")],
    "invoices": Facture.objects.aggregate(n=Count("id"), total=Sum("montant_total")),
    "refunds": [list(row) for row in Retour.objects.values("raison").annotate(n=Count("id"), total=Sum("montant_remboursement"),
                                                        nulls=Count("id", filter=Q(montant_remboursement__isnull=True))).order_by("raison").values_list("raison", "n", "total", "nulls")],
    "stock_value_live": plain(ProduitEntrepot.objects.filter(produit__is_deleted=False, entrepot__is_actif=True)
                            .aggregate(v=Sum(F("quantite") * F("produit__prix_unit")))["v"]),
    "soft_deleted": list(Produit.objects.filter(is_deleted=True).order_by("code_prod").values_list("code_prod", flat=True)),
    "json_details": Historique.objects.filter(details__isnull=False).count(),
}
print(json.dumps(figures, default=plain, sort_keys=True))
