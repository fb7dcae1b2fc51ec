# SPDX-License-Identifier: Apache-2.0
#
# `cpack -G DEB` in the build folder: drawbridge_VERSION_ARCH.deb, installed
# under /usr, its shared-library dependencies found by dpkg-shlibdeps, its
# /etc files marked as conffiles, with maintainer scripts that create the
# service account and the state directory (dist/debian/).  Included from the
# top-level CMakeLists.txt after dist/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME drawbridge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${DRAWBRIDGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "privileged-access SSH gateway with just-in-time grants")
set(CPACK_PACKAGE_DESCRIPTION
    "Drawbridge is an SSH bastion for production access.  Engineers log in with a
stock OpenSSH client and are authenticated against LDAP; they reach a
protected host only on a time-boxed grant that other people approved; nobody
holds standing access to protected hosts; every session is recorded, sealed
and can be replayed by reviewers.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/dist/debian/postinst ${CMAKE_BINARY_DIR}/dist/debian/prerm
    ${CMAKE_BINARY_DIR}/dist/debian/postrm ${CMAKE_BINARY_DIR}/dist/debian/conffiles)
include(CPack)
