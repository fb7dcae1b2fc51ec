# SPDX-License-Identifier: Apache-2.0
# broker/ldap.c against a real slapd started by ldap_live.sh (lib-ldap.sh).
pkg_check_modules(LDAP_LIVE_CMOCKA REQUIRED IMPORTED_TARGET cmocka)
add_executable(ldap_live_test ${CMAKE_CURRENT_LIST_DIR}/ldap_live_test.c)
target_link_libraries(ldap_live_test PRIVATE drawbridge_broker PkgConfig::LDAP_LIVE_CMOCKA)
add_test(NAME integration/ldap-live
         COMMAND ${BASH_PROGRAM} -c ${INTEG_RUN} ${CMAKE_CURRENT_LIST_DIR}/ldap_live.sh
                 $<TARGET_FILE:ldap_live_test>)
set_tests_properties(integration/ldap-live PROPERTIES LABELS integration TIMEOUT 120)
