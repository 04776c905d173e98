def test_login_and_see_list(client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Contacts gone")
    page = client.get("/")
    assert page.status_code == 200
    assert ref in page.get_data(as_text=True)
    detail = client.get(f"/incidents/{ref}")
    assert "Contacts gone" in detail.get_data(as_text=True)
