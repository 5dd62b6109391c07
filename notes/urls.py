from rest_framework.routers import SimpleRouter

from .api import NoteViewSet

router = SimpleRouter()
router.register("api/notes", NoteViewSet, basename="note")

urlpatterns = router.urls
